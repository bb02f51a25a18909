from .container import main

main()
