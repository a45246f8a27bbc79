"""HTTP only: one package a blueprint. Rules live in `models`."""
