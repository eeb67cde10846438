"""A real publisher process for the bus tests: publishes motor.state once as state and heartbeats until killed."""
import sys
import time
from pathlib import Path

from device.bus.pubsub import Publisher
from device.bus.schemas import MotorState

runtime_dir, name, heading = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
pub = Publisher(name, runtime_dir, heartbeat_s=0.1)
pub.publish("motor.state", MotorState(t_ns=time.monotonic_ns(), heading_deg=heading))
print("ready", flush=True)
while True:
    pub.tick()
    time.sleep(0.01)
