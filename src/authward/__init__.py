"""authward: sessions and JWTs done right, behind one API."""

__all__: list[str] = []
