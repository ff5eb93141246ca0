"""Each lab's practice step: what a user does with the lab once it is deployed."""
