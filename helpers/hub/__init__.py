"""From the course's models to real ones: inspect a hub file before downloading it, download it verified."""
