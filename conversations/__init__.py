"""The conversation log that Rasa's tracker store writes (the `events` table): reading,
filtering, aggregating and purging it happen in `conversations.log` only; the per-conversation
summaries the console reads, kept beside it, in `conversations.summary`."""
