"""Built-in trainers. Each is a package registered in the ``orch.trainers`` entry-point group;
none imports ray or mlflow, so each runs standalone and on a GPU box with only torch."""
