"""Tools the model can call: memory, weather and local smart-home devices."""
