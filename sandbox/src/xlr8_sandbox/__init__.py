"""Vendor emulators: the local sandbox every tap is tested against."""
