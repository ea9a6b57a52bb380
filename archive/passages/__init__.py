"""What the passages answer: blame, trace and related documents."""
