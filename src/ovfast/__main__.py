"""`python -m ovfast benchmark ...` (also installed as the `ovfast` command)."""

from ovfast.benchmark import main_exit

if __name__ == "__main__":
    main_exit()
