"""The player's widgets, one per module; each shows one part of a `tui.frame.Frame`."""
