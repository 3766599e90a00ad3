from layerdrop.cli import main

main()
