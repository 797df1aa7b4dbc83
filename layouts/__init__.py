"""One module per screen: what it shows. A layout is a function of settings and request, never of
module-level state."""
