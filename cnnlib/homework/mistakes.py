def diagnose(exercise_id, case, got, expected, problem):
    return ""
