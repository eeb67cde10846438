"""Home Assistant's own client (aioesphomeapi.APIClient) against the satellite in a simulated room: entities,
follow me through the motion API, a wake word that starts a pipeline with the talker's speech, and an answer
played into the room that the world hears and that never turns the screen. (The tests run in file order.)"""
from __future__ import annotations

import time

import numpy as np
from aioesphomeapi import VoiceAssistantEventType as Ev

from device.bus.pubsub import Subscriber
from device.sim.speech import synthesize

from .conftest import COMMAND, SPEECH_T

ANSWER = "alexa, it is sunny in the garden and warm all day"


def envelope(x: np.ndarray, rate: int = 16000, frame_s: float = 0.02) -> np.ndarray:
    """Log energy per 20 ms, floored 30 dB under the peak (a dry recording's digital silence and a room's
    noise floor then look alike)."""
    n = int(rate * frame_s)
    k = len(x) // n
    e = 10 * np.log10(np.mean(x[:k * n].reshape(k, n).astype(np.float64) ** 2, axis=1) + 1e-12)
    return np.maximum(e, e.max() - 30.0)


def best_correlation(heard: np.ndarray, reference: np.ndarray, min_overlap_s: float = 1.5) -> float:
    """Best Pearson correlation of the two envelopes over every lag with at least `min_overlap_s` in common
    (the stream begins after the keyword, the reference with it)."""
    a, b = envelope(heard), envelope(reference)
    m = int(min_overlap_s / 0.02)
    best = -1.0
    for lag in range(-(len(b) - m), len(a) - m + 1):
        x = a[max(0, lag): lag + len(b)]
        y = b[max(0, -lag): max(0, -lag) + len(x)]
        if len(x) >= m and x.std() > 0 and y.std() > 0:
            best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best


def test_device_info_and_entities(assistant):
    info = assistant.run(assistant.client.device_info())
    assert info.name == "swivel" and info.voice_assistant_feature_flags & 0b11111 == 0b11111
    by_id = {e.object_id: e for e in assistant.entities}
    assert set(by_id) == {"follow_me", "away_mode", "rom_min", "rom_max", "heading", "people_in_view",
                          "face_me", "go_home", "turntable_health", "acknowledge_turntable"}
    assert type(by_id["follow_me"]).__name__ == "SwitchInfo" and type(by_id["rom_min"]).__name__ == "NumberInfo"
    assert type(by_id["heading"]).__name__ == "SensorInfo" and type(by_id["go_home"]).__name__ == "ButtonInfo"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not {1, 3, 5, 6} <= set(assistant.states):
        time.sleep(0.1)
    assert assistant.states[1].state is True                          # following, as configured
    assert -180.0 <= assistant.states[3].state < assistant.states[4].state <= 180.0   # the policy's range


def _policy_follow(sim_run, timeout_s: float = 5.0):
    sub = Subscriber(sim_run.runtime_dir).subscribe("policy", "policy.state")
    try:
        deadline = time.monotonic() + timeout_s
        seen = None
        while time.monotonic() < deadline:
            for topic, m in sub.poll(100):
                if topic == "policy.state":
                    seen = m.follow
            if seen is not None:
                return seen
    finally:
        sub.close()


def test_follow_me_switch_goes_through_the_motion_api(assistant, sim_run):
    assistant.client.switch_command(1, False)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and (_policy_follow(sim_run, 1.0) is not False):
        pass
    assert _policy_follow(sim_run) is False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and assistant.states[1].state is not False:
        time.sleep(0.1)
    assert assistant.states[1].state is False
    assistant.client.switch_command(1, True)                          # on again before the talker speaks
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and (_policy_follow(sim_run, 1.0) is not True):
        pass
    assert _policy_follow(sim_run) is True
    log = sim_run.service_log("policy")
    assert "satellite via uid" in log and '"op": "follow"' in log


def test_wake_word_starts_a_pipeline_with_the_talkers_speech(assistant, sim_run):
    deadline = time.monotonic() + SPEECH_T + 40
    while time.monotonic() < deadline and not assistant.stops:
        time.sleep(0.2)
    assert assistant.starts, "no pipeline started:\n" + sim_run.tail()
    assert assistant.starts[0][1] == "alexa"
    assert assistant.stops and assistant.stops[0][1] is False, "the stream did not end on its own"
    pcm = np.frombuffer(b"".join(d for _, d in assistant.audio), "<i2").astype(np.float32) / 32768
    assert 1.0 < len(pcm) / 16000 < 6.0, f"{len(pcm) / 16000:.1f} s of audio"
    spoken = synthesize(COMMAND, "en-us", 16000)
    other = synthesize("seven hundred red balloons float past the window slowly tonight", "en-gb", 16000)
    match, control = best_correlation(pcm, spoken), best_correlation(pcm, other)
    assert match > 0.5 and match > control + 0.15, (match, control)


def test_answer_is_heard_in_the_room_and_never_turns_the_screen(assistant, sim_run):
    sub = Subscriber(sim_run.runtime_dir)
    sub.subscribe("motor", "motor.state")
    sub.subscribe("ssl", "ssl.beam")
    sub.subscribe("wake", "wake.event")
    sub.subscribe("satellite", "satellite.state")
    try:
        # Wait until the turn to the talker is over.
        deadline, still_since = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            for topic, m in sub.poll(50):
                if topic == "motor.state":
                    still_since = None if m.moving else (still_since or time.monotonic())
            if still_since and time.monotonic() - still_since > 1.0:
                break
        beam, headings, wakes, played = [], [], [], 0
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:                               # a second of the room before the answer
            for topic, m in sub.poll(50):
                if topic == "ssl.beam":
                    beam.append(("before", np.frombuffer(m.samples, "<i2")))
        answer = synthesize(ANSWER, "en-us", 16000)
        pcm = (np.clip(answer, -1, 1) * 32767).astype("<i2").tobytes()
        c = assistant.client
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_TTS_STREAM_START, {})
        for i in range(0, len(pcm), 1024):
            c.send_voice_assistant_audio(pcm[i:i + 1024])
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_TTS_STREAM_END, {})
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_RUN_END, {})
        t_end = time.monotonic() + len(answer) / 16000 + 3.0
        while time.monotonic() < t_end:
            for topic, m in sub.poll(50):
                if topic == "ssl.beam":
                    beam.append(("during", np.frombuffer(m.samples, "<i2")))
                elif topic == "motor.state":
                    headings.append(m.heading_deg)
                elif topic == "wake.event":
                    wakes.append(m)
                elif topic == "satellite.state":
                    played = max(played, m.played_frames)
    finally:
        sub.close()
    assert played >= len(answer), (played, len(answer))               # the speaker backend played all of it
    before = np.concatenate([x for k, x in beam if k == "before"]).astype(np.float32) / 32768
    during = np.concatenate([x for k, x in beam if k == "during"]).astype(np.float32) / 32768
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))                   # noqa: E731
    assert rms(during) > 4 * rms(before), (rms(during), rms(before))  # the microphones hear the device speak
    assert best_correlation(during, answer) > 0.5
    assert not wakes, f"the device's own voice woke it: {wakes}"
    assert headings and max(headings) - min(headings) < 1.0, "the screen moved while the device spoke"


def test_go_home_button_turns_the_screen_home(assistant, sim_run):
    assert not assistant.states[5].missing_state                      # the heading sensor follows motor.state
    assistant.client.button_command(8)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        h = assistant.states.get(5)
        if h is not None and abs(h.state) < 3.0:
            break
        time.sleep(0.2)
    assert abs(assistant.states[5].state) < 3.0, assistant.states[5].state


def test_home_assistant_switches_the_wake_services_model(assistant, sim_run):
    cfg = assistant.run(assistant.client.get_voice_assistant_configuration(5))
    assert cfg.active_wake_words == ["alexa"]
    assistant.run(assistant.client.set_voice_assistant_configuration(["hey_jarvis"]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and '"models": ["hey_jarvis"]' not in sim_run.service_log("wake"):
        time.sleep(0.2)
    assert '"msg": "wake word model switched", "models": ["hey_jarvis"]' in sim_run.service_log("wake")
