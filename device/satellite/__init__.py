"""The Home Assistant voice satellite: the server side of the ESPHome native API (see README "Voice satellite")."""
