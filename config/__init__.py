"""Settings, the category catalogue and the city presets: data, read once at start-up."""
