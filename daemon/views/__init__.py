"""What the CLI shows people: plan, status and simulation reports."""
