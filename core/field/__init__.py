"""Offline field debugging: captures from devices, replayed and compared with the lab."""
