"""tap-ukg-ready: UKG Ready (Kronos Workforce Ready) for the xlr8 connector kit."""
