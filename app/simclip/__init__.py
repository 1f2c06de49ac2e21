"""SimCLIP, the lab's small image-text model: training data rendered from the catalog, training, evaluation."""
