"""pytest runs the student editions with nbval: every exercise must report "not
implemented yet" (the progress cell at the end of each notebook raises otherwise)."""
import os

os.environ["CNNLIB_HOMEWORK_EXPECT"] = "not implemented yet"
