// One embedded host and one Chromium for the whole class; on 2 cores nothing else should run beside them.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
