from nksim.cli import main

main()
