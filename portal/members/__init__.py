"""An organisation's members: the list, role changes, removal and invitations."""
