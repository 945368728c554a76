"""Self-hosted challenges: image, math and proof of work, served by an optional blueprint."""
