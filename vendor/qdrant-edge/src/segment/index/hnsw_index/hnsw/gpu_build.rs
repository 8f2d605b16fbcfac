use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::common::ambient;
use crate::common::bitvec::BitSlice;
use crate::common::reason::reason;
use crate::common::types::PointOffsetType;

use super::{FINISH_MAIN_GRAPH_LOG_MESSAGE, SINGLE_THREADED_HNSW_BUILD_THRESHOLD};
use crate::segment::common::operation_error::{OperationResult, check_process_stopped};
use crate::segment::id_tracker::{IdTrackerEnum, IdTrackerRead};
use crate::segment::index::hnsw_index::HnswM;
use crate::segment::index::hnsw_index::gpu::get_gpu_groups_count;
use crate::segment::index::hnsw_index::gpu::gpu_devices_manager::LockedGpuDevice;
use crate::segment::index::hnsw_index::gpu::gpu_graph_builder::{
    GPU_MAX_VISITED_FLAGS_FACTOR, build_hnsw_on_gpu,
};
use crate::segment::index::hnsw_index::gpu::gpu_insert_context::GpuInsertContext;
use crate::segment::index::hnsw_index::gpu::gpu_vector_storage::GpuVectorStorage;
use crate::segment::index::hnsw_index::graph_layers_builder::GraphLayersBuilder;
use crate::segment::index::hnsw_index::point_scorer::FilteredScorer;
use crate::segment::vector_storage::quantized::quantized_vectors::QuantizedVectors;
use crate::segment::vector_storage::{VectorStorageEnum, VectorStorageRead};

/// Uploads the vectors to `gpu_device` when any graph is going to be built there, and
/// builds the main graph on it when `build_main_graph`. Returns the uploaded vectors, kept
/// for the additional links, and the main graph if the GPU built it.
#[allow(clippy::too_many_arguments)]
pub(super) fn upload_and_build_main_graph(
    gpu_device: Option<&LockedGpuDevice>,
    build_main_graph: bool,
    has_additional_links: bool,
    id_tracker: &IdTrackerEnum,
    vector_storage: &VectorStorageEnum,
    quantized_vectors: &Option<QuantizedVectors>,
    graph_layers_builder: &GraphLayersBuilder,
    deleted_bitslice: &BitSlice,
    entry_points_num: usize,
    stopped: &AtomicBool,
) -> OperationResult<(Option<Arc<GpuVectorStorage>>, Option<GraphLayersBuilder>)> {
    if !(build_main_graph || has_additional_links) {
        return Ok((None, None));
    }
    let timer = std::time::Instant::now();
    let gpu_vectors =
        create_gpu_vectors(gpu_device, vector_storage, quantized_vectors, stopped)?.map(Arc::new);
    if !build_main_graph {
        return Ok((gpu_vectors, None));
    }
    let gpu_graph = build_main_graph_on_gpu(
        id_tracker,
        vector_storage,
        quantized_vectors,
        gpu_vectors.as_ref(),
        graph_layers_builder,
        deleted_bitslice,
        entry_points_num,
        stopped,
    )?;
    if gpu_graph.is_some() {
        log::debug!("{FINISH_MAIN_GRAPH_LOG_MESSAGE} {:?}", timer.elapsed());
    }
    Ok((gpu_vectors, gpu_graph))
}

#[allow(clippy::too_many_arguments)]
fn build_main_graph_on_gpu(
    id_tracker: &IdTrackerEnum,
    vector_storage: &VectorStorageEnum,
    quantized_vectors: &Option<QuantizedVectors>,
    gpu_vectors: Option<&Arc<GpuVectorStorage>>,
    graph_layers_builder: &GraphLayersBuilder,
    deleted_bitslice: &BitSlice,
    entry_points_num: usize,
    stopped: &AtomicBool,
) -> OperationResult<Option<GraphLayersBuilder>> {
    let points_scorer_builder = |vector_id| {
        FilteredScorer::new_internal(
            vector_id,
            vector_storage,
            quantized_vectors.as_ref(),
            None,
            id_tracker.deleted_point_bitslice(),
        )
    };

    let mut gpu_insert_context = if let Some(gpu_vectors) = gpu_vectors {
        Some(GpuInsertContext::new(
            gpu_vectors.clone(),
            get_gpu_groups_count(),
            graph_layers_builder.hnsw_m(),
            graph_layers_builder.ef_construct(),
            false,
            1..=GPU_MAX_VISITED_FLAGS_FACTOR,
        )?)
    } else {
        None
    };

    build_graph_on_gpu(
        gpu_insert_context.as_mut(),
        graph_layers_builder,
        id_tracker
            .point_mappings()
            .iter_internal_excluding(deleted_bitslice),
        entry_points_num,
        points_scorer_builder,
        stopped,
    )
}

/// Build one payload block on the GPU, linking its points only to each other. Points keep
/// their segment ids, so `reference_graph` is segment-sized; only block points get links.
pub(super) fn build_block_on_gpu(
    id_tracker: &IdTrackerEnum,
    vector_storage: &VectorStorageEnum,
    quantized_vectors: &Option<QuantizedVectors>,
    gpu_insert_context: &mut GpuInsertContext,
    reference_graph: &GraphLayersBuilder,
    points_to_index: &[PointOffsetType],
    stopped: &AtomicBool,
) -> OperationResult<Option<GraphLayersBuilder>> {
    // Searches start from block points and follow links between block points, so they cannot
    // reach other points and need no block filter.
    build_graph_on_gpu(
        Some(gpu_insert_context),
        reference_graph,
        points_to_index.iter().copied(),
        1,
        |block_point_id| {
            FilteredScorer::new_internal(
                block_point_id,
                vector_storage,
                quantized_vectors.as_ref(),
                None,
                id_tracker.deleted_point_bitslice(),
            )
        },
        stopped,
    )
}

fn build_graph_on_gpu<'a>(
    gpu_insert_context: Option<&mut GpuInsertContext>,
    graph_layers_builder: &GraphLayersBuilder,
    points_to_index: impl Iterator<Item = PointOffsetType>,
    entry_points_num: usize,
    points_scorer_builder: impl Fn(PointOffsetType) -> OperationResult<FilteredScorer<'a>> + Send + Sync,
    stopped: &AtomicBool,
) -> OperationResult<Option<GraphLayersBuilder>> {
    if let Some(gpu_insert_context) = gpu_insert_context {
        let gpu_constructed_graph = ambient::unmeasured(
            reason("internal operation, the scorers are used within this call"),
            || {
                build_hnsw_on_gpu(
                    gpu_insert_context,
                    graph_layers_builder,
                    get_gpu_groups_count(),
                    entry_points_num,
                    SINGLE_THREADED_HNSW_BUILD_THRESHOLD,
                    points_to_index.collect::<Vec<_>>(),
                    points_scorer_builder,
                    stopped,
                )
            },
        );

        // GPU construction does not return an error. If it fails, it will fall back to CPU.
        // To cover stopping case, we need to check stopping flag here.
        check_process_stopped(stopped)?;

        match gpu_constructed_graph {
            Ok(gpu_constructed_graph) => Ok(Some(gpu_constructed_graph)),
            Err(gpu_error) => {
                log::warn!("Failed to build HNSW on GPU: {gpu_error}. Falling back to CPU.");
                Ok(None)
            }
        }
    } else {
        Ok(None)
    }
}

fn create_gpu_vectors(
    gpu_device: Option<&LockedGpuDevice>,
    vector_storage: &VectorStorageEnum,
    quantized_vectors: &Option<QuantizedVectors>,
    stopped: &AtomicBool,
) -> OperationResult<Option<GpuVectorStorage>> {
    use crate::segment::index::hnsw_index::gpu::get_gpu_force_half_precision;
    if vector_storage.total_vector_count() < SINGLE_THREADED_HNSW_BUILD_THRESHOLD {
        return Ok(None);
    }

    if let Some(gpu_device) = gpu_device {
        let gpu_vectors = GpuVectorStorage::new(
            gpu_device.device(),
            vector_storage,
            quantized_vectors.as_ref(),
            get_gpu_force_half_precision(),
            stopped,
        );

        // GPU construction does not return an error. If it fails, it will fall back to CPU.
        // To cover stopping case, we need to check stopping flag here.
        check_process_stopped(stopped)?;

        match gpu_vectors {
            Ok(gpu_vectors) => Ok(Some(gpu_vectors)),
            Err(err) => {
                log::error!("Failed to create GPU vectors, use CPU instead. Error: {err}.");
                Ok(None)
            }
        }
    } else {
        Ok(None)
    }
}

pub(super) fn create_gpu_insert_context(
    gpu_vectors: Option<&Arc<GpuVectorStorage>>,
    payload_m: HnswM,
    ef_construct: usize,
) -> OperationResult<Option<GpuInsertContext>> {
    gpu_vectors
        .map(|gpu_vectors| {
            GpuInsertContext::new(
                gpu_vectors.clone(),
                get_gpu_groups_count(),
                payload_m,
                ef_construct,
                false,
                1..=GPU_MAX_VISITED_FLAGS_FACTOR,
            )
        })
        .transpose()
}
