"""The one rule every figure shown to sponsors follows."""

# Averages and themes over fewer people than this are not shown, so no one's answer can be singled out.
MIN_GROUP = 3
