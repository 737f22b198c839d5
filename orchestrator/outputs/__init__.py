"""What a run leaves behind for people: the HTML report, leaderboard files and the regression check."""
