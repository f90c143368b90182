"""One driver per smart-home device family, all behind `base.Driver`."""
