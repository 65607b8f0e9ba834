"""Pure reading of replies: new text without quotes and signatures, ratings, answers, notes, topics, iTIP."""
