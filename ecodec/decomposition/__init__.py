"""Solution methods behind one interface; the centralized solve is the reference method."""
