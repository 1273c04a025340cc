"""The app's screens: the lesson menu, the player, and the small dialogs they open."""
