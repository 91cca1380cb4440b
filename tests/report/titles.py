"""The report's section titles in the issue's order: every report shows them, whatever its inputs."""

TITLES = [
    "1. The game",
    "2. Training",
    "3. Did the networks learn the game?",
    "4. Did training make mirror units?",
    "5. The case checkpoint",
    "6. CMNI against chance",
    "7. Over training",
    "8. Circuits",
    "9. Behaviour",
    "10. Reproduction summary",
]
