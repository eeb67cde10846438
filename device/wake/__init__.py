"""The wake-word service: an on-device detector on ssl's beam, publishing `wake.event` with the keyword's span."""
