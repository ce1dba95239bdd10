from localaws.server import main

main()
