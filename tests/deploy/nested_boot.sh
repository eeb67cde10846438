#!/bin/bash
# Boot a real systemd as PID 1 of private namespaces on a throw-away overlay of / with Swivel installed by tools/install.sh.
# Run as: unshare --pid --fork --mount bash nested_boot.sh STAGE1 T SRC CFG DEPS    (T: an empty dir; all writes land in a tmpfs there)
# Nothing reaches the host: every write goes to the overlay's tmpfs upper layer, /dev is private (console = /dev/null),
# /sys and /proc/sys are read-only (so udev, sysctl and binfmt units skip themselves), the network namespace is empty,
# timers are masked and the journal is volatile. Killing PID 1 (the systemd) ends it all.
set -euo pipefail
NESTED_SRC=/srv/swivel-src          # where the checkout appears inside (test_systemd_boot.py uses it too)
NESTED_DEPS=/srv/swivel-test-deps
if [ "$1" = stage1 ]; then
  T=$2; SRC=$3; CFG=$4; DEPS=$5
  R=$T/root
  mount --make-rprivate /
  mount -t tmpfs -o mode=755 tmpfs "$T" || { echo "BOOT-ENV: tmpfs"; exit 10; }
  mkdir -p "$T/upper" "$T/work" "$R"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R" || { echo "BOOT-ENV: overlay"; exit 10; }
  mount -t tmpfs -o mode=755 tmpfs "$R/run"
  mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
  mount -t proc proc "$R/proc"
  mount -t tmpfs -o mode=755 tmpfs "$R/dev"
  for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
  touch "$R/dev/console"; mount --bind /dev/null "$R/dev/console"
  mkdir -p "$R/dev/pts" "$R/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
  ln -s pts/ptmx "$R/dev/ptmx"
  mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
  ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"
  ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
  # The checkout and the lent site-packages, read-only at fixed paths: the host paths may lie under /tmp (a fresh
  # tmpfs in here), on another file system than / (the overlay shows only /'s own), or contain spaces.
  lend() {
    [ -d "$1" ] || { echo "BOOT: INSTALL FAILED: no directory $1"; exit 3; }
    mkdir -p "$R$2"; mount --bind "$1" "$R$2"; mount -o remount,bind,ro "$R$2"
  }
  lend "$SRC" "$NESTED_SRC"
  lend "$DEPS" "$NESTED_DEPS"
  # The install, as `make install` runs it on a device (no apt; dependencies lent below: see the test).
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PYTHON=/usr/bin/python3 \
      bash "$NESTED_SRC/tools/install.sh" --no-apt --no-deps || { echo "BOOT: INSTALL FAILED"; exit 3; }
  site=$(chroot "$R" /opt/swivel/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  echo "$NESTED_DEPS" > "$R$site/zz_test_deps.pth"
  cp "$CFG" "$R/etc/swivel/swivel.toml"
  ln -sf /dev/null "$R/etc/systemd/system/timers.target"
  mkdir -p "$R/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' > "$R/etc/systemd/journald.conf.d/volatile.conf"
  cp "$0" "$R/run/nested_boot.sh"
  cd "$R"; mkdir -p .oldroot; pivot_root . .oldroot; umount -l /.oldroot
  echo "BOOT: installed"
  exec unshare --net --uts --ipc --cgroup bash /run/nested_boot.sh stage2
fi
# stage2: now in fresh net and cgroup namespaces; sysfs and cgroup2 must be mounted from inside them.
mount -t sysfs -o ro sysfs /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys
rm -f /run/nested_boot.sh
echo "BOOT: exec systemd"
exec env -i container=swivel-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  setpriv --bounding-set=-sys_module,-sys_time,-sys_boot \
  /lib/systemd/systemd --unit=swivel.target --log-target=journal --show-status=false
