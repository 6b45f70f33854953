"""A demo relying app that signs people in through the bridge, as a real school registry would."""
