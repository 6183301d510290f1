//! `sightline node`: the ROS 2 node (docs/ros.md). Build with `--features ros`.

#[derive(clap::Args)]
pub struct Args {
    /// ROS arguments, read by rcl: --ros-args --params-file FILE -p name:=value ...
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ROS_ARGS"
    )]
    ros_args: Vec<String>,
}

pub fn run(_args: Args) -> anyhow::Result<()> {
    Ok(sightline_ros::run_node()?)
}
