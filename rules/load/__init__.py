"""Reading and validating a catalogue directory."""
