import os

# A sandbox's container runs the supervisor; a function's, the input runtime.
if os.environ.get("KETCH_ROLE") == "sandbox":
    from .supervisor import main
else:
    from .container import main

main()
