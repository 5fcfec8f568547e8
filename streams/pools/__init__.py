"""The processes the engine works in beside its event loop: landing processes and the case process."""
