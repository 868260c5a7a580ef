"""« Écrire à l'équipe »: questions citizens leave for the data-protection team, answered by e-mail."""
