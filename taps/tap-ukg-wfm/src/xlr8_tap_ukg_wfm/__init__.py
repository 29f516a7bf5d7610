"""tap-ukg-wfm: UKG Pro Workforce Management (Dimensions) as Singer streams."""
