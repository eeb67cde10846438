"""tools/install.sh and tools/uninstall.sh staged into a temp root: files land right, the installed swivel runs."""
from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploykit import REPO, SYSTEMD_DIR, UNITS, analyze, copy_checkout  # noqa: E402

INSTALL = REPO / "tools" / "install.sh"
UNINSTALL = REPO / "tools" / "uninstall.sh"


def run_script(script: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # PYTHON: build the venv from the interpreter running the tests (python3 on a Pi).
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("DESTDIR", None)
    return subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _passwd(root: Path) -> dict[str, list[str]]:
    return {l.split(":")[0]: l.split(":") for l in (root / "etc/passwd").read_text().splitlines() if l}


def _groups(root: Path) -> dict[str, list[str]]:
    return {l.split(":")[0]: l.split(":") for l in (root / "etc/group").read_text().splitlines() if l}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """One staged install for the module. --no-deps: only the swivel package goes into the venv (the
    dependencies are hundreds of MB and the network is not a test's to use); see test_installed_swivel_runs."""
    root = tmp_path_factory.mktemp("root")
    res = run_script(INSTALL, "--root", str(root), "--no-deps", "--no-apt")
    assert res.returncode == 0, res.stdout + res.stderr
    return root


def test_units_and_snippets_land(root):
    for name in UNITS + ("swivel.target",):
        assert (root / "etc/systemd/system" / name).read_text() == (SYSTEMD_DIR / name).read_text()
    assert (root / "etc/sysusers.d/swivel.conf").read_text() == (SYSTEMD_DIR / "swivel.sysusers.conf").read_text()
    assert (root / "etc/tmpfiles.d/swivel.conf").read_text() == (SYSTEMD_DIR / "swivel.tmpfiles.conf").read_text()
    link = root / "etc/systemd/system/multi-user.target.wants/swivel.target"
    assert link.is_symlink() and os.readlink(link) == "/etc/systemd/system/swivel.target"


def test_user_groups_and_dirs(root):
    user = _passwd(root)["swivel"]
    uid, gid, home, shell = int(user[2]), int(user[3]), user[5], user[6]
    assert uid < 1000 and home == "/var/lib/swivel" and shell == "/usr/sbin/nologin"
    groups = _groups(root)
    assert int(groups["swivel"][2]) == gid
    for g in ("audio", "video", "gpio", "dialout"):
        assert "swivel" in groups[g][3].split(","), g
    for d in ("run/swivel", "var/lib/swivel"):
        st = (root / d).stat()
        assert (st.st_uid, st.st_gid) == (uid, gid), d
        assert stat.S_IMODE(st.st_mode) == 0o750, d


def test_config_installed_once(root):
    cfg = root / "etc/swivel/swivel.toml"
    assert cfg.read_text() == (SYSTEMD_DIR / "swivel.toml.example").read_text()
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o644
    # A second install keeps the user's edits and refreshes only the example beside it.
    cfg.write_text(cfg.read_text().replace('log_level = "info"', 'log_level = "debug"', 1))
    edited = cfg.read_text()
    res = run_script(INSTALL, "--root", str(root), "--no-deps", "--no-apt")
    assert res.returncode == 0, res.stdout + res.stderr
    assert cfg.read_text() == edited
    assert "kept" in res.stdout
    assert (root / "etc/swivel/swivel.toml.example").read_text() == (SYSTEMD_DIR / "swivel.toml.example").read_text()


def test_venv_holds_the_package_not_a_link_to_the_checkout(root):
    venv = root / "opt/swivel"
    script = venv / "bin/swivel"
    assert os.access(script, os.X_OK)
    assert script.read_text().splitlines()[0] == f"#!{venv}/bin/python3.11" or \
        script.read_text().splitlines()[0].startswith(f"#!{venv}/bin/python")
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    installed = {p.relative_to(site) for p in (site / "device").rglob("*.py")}
    shipped = {p.relative_to(REPO) for p in (REPO / "device").rglob("*.py") if "__pycache__" not in p.parts}
    assert installed == shipped
    assert not list(site.glob("__editable__*"))            # a copy, not an editable link to this checkout
    assert (venv / "share/doc/swivel/INSTALL.md").exists()


def test_package_data_installed(root):
    site = next((root / "opt/swivel/lib").glob("python3*/site-packages"))
    data = {p.relative_to(REPO) for p in (REPO / "device").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
            and "screenshots" not in p.parts}             # the web app's README pictures are docs, not data
    assert data, "expected data files (array presets) in the package"
    # An installed ssl needs its array presets: pyproject.toml's [tool.setuptools.package-data] ships them.
    missing = sorted(str(d) for d in data if not (site / d).exists())
    assert not missing, missing


def test_installed_swivel_runs(root):
    """The installed entry point and config work. The venv got no dependencies (--no-deps), so a .pth
    lends it this test environment's site-packages: every `device` module still comes from /opt/swivel."""
    venv = root / "opt/swivel"
    py = venv / "bin/python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    try:
        code = ("import sys, device, device.config as c; "
                "c.load_config(sys.argv[1]); print(device.__file__)")
        # cwd away from the checkout: `python -c` puts the cwd first on sys.path.
        res = subprocess.run([str(py), "-c", code, str(root / "etc/swivel/swivel.toml")],
                             capture_output=True, text=True, timeout=60, cwd=root)
        assert res.returncode == 0, res.stderr
        assert Path(res.stdout.strip()).is_relative_to(venv)
        res = subprocess.run([str(venv / "bin/swivel"), "service", "--help"], capture_output=True, text=True,
                             timeout=60, cwd=root)
        assert res.returncode == 0 and "motor" in res.stdout, res.stderr
    finally:
        (site / "zz_test_deps.pth").unlink()


def test_installed_units_verify_against_the_installed_venv(root, tmp_path):
    """Same check as test_units, but ExecStart points into the staged root's real /opt/swivel."""
    for name in UNITS + ("swivel.target",):
        text = (root / "etc/systemd/system" / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/swivel/bin/", f"{root}/opt/swivel/bin/"))
    res = analyze("verify", "--man=no", *[f"./{u}" for u in UNITS], "./swivel.target", cwd=tmp_path)
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stdout + res.stderr


def test_uninstall_keeps_config_and_state_then_purge_removes_them(root, tmp_path):
    staged, root = root, tmp_path / "root"
    shutil.copytree(staged, root, symlinks=True)          # a second install tree, without a second build
    (root / "var/lib/swivel/rom.json").write_text("{}")
    res = run_script(UNINSTALL, "--root", str(root))
    assert res.returncode == 0, res.stdout + res.stderr
    for gone in ["opt/swivel", "run/swivel", "etc/sysusers.d/swivel.conf", "etc/tmpfiles.d/swivel.conf",
                 "etc/systemd/system/multi-user.target.wants/swivel.target"] + \
                [f"etc/systemd/system/{u}" for u in UNITS + ("swivel.target",)]:
        assert not (root / gone).exists() and not (root / gone).is_symlink(), gone
    assert (root / "etc/swivel/swivel.toml").exists() and (root / "var/lib/swivel/rom.json").exists()
    res = run_script(UNINSTALL, "--root", str(root), "--purge")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (root / "etc/swivel").exists() and not (root / "var/lib/swivel").exists()


def test_install_and_uninstall_from_a_clone_with_spaces(tmp_path):
    """A clone under /tmp with spaces in its path, staged into a root with spaces: the scripts quote every path."""
    src = copy_checkout(tmp_path / "my clone" / "swivel src")
    root = tmp_path / "staged root"
    res = run_script(src / "tools" / "install.sh", "--root", str(root), "--no-deps", "--no-apt")
    assert res.returncode == 0, res.stdout + res.stderr
    for name in UNITS + ("swivel.target",):
        assert (root / "etc/systemd/system" / name).read_text() == (SYSTEMD_DIR / name).read_text()
    py = root / "opt/swivel/bin/python"
    res = subprocess.run([str(py), "-c", "import device; print(device.__file__)"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode == 0 and Path(res.stdout.strip()).is_relative_to(root / "opt/swivel"), res.stderr
    res = run_script(src / "tools" / "uninstall.sh", "--root", str(root), "--purge")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (root / "opt/swivel").exists() and not (root / "etc/swivel").exists()


def test_install_refuses_to_touch_the_system_unprivileged():
    """Without root and without --root, the script stops before changing anything."""
    if os.geteuid() != 0:
        res = run_script(INSTALL)
    else:
        nobody = pwd.getpwnam("nobody")
        res = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                              "bash", str(INSTALL)], capture_output=True, text=True, timeout=60,
                             env={"PATH": os.environ["PATH"]})
    assert res.returncode == 1
    assert "run as root" in res.stderr
