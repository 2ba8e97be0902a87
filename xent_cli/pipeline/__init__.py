"""From sources to a result: plans of tasks, engines that run them, and the merge of their partials."""
