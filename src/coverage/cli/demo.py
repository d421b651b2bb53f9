"""``priorauth`` commands of this group (registered on import; heavy imports stay inside commands)."""
