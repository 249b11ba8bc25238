print("mgm")
