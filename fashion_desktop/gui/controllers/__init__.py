"""The window's controllers: QObjects without widgets that do what the menus, keys and tabs ask."""
