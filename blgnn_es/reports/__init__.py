"""What people read: run reports, evaluation and comparison output, studies, collect."""
