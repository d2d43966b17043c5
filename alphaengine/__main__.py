from alphaengine.cli import main

main()
