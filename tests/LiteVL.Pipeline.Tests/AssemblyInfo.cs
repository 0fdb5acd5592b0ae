// Pipeline tests start whole hosts and ffmpeg runs; on 2 cores they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
